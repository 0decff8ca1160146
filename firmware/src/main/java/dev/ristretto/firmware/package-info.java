/** Pure boot code: computes what goes into guest memory and vCPU registers; touches no KVM. */
package dev.ristretto.firmware;
