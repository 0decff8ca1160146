/** Machine assembly and lifecycle. */
package dev.ristretto.machine;
