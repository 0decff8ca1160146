/**
 * {@code ristretto check}: what this host's KVM can do and how to fix what it cannot.
 * {@link dev.ristretto.vmm.check.HostProbe} gathers {@link dev.ristretto.vmm.check.HostFacts}
 * (opening /dev/kvm, reading /proc and /sys, and running a tiny guest through
 * {@link dev.ristretto.vmm.check.NativeProbe}); {@link dev.ristretto.vmm.check.HostCheck} turns
 * facts into a {@link dev.ristretto.vmm.check.CheckReport} with a pure function, so every verdict
 * can be tested with made-up facts.
 */
package dev.ristretto.vmm.check;
