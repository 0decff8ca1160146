/** The ristretto command line. */
package dev.ristretto.cli;
