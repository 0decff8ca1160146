/** Device models as pure state machines on a bus. */
package dev.ristretto.devices;
