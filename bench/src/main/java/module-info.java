/** Benchmarks: print figures; never fail a build on a timing. */
module ristretto.bench {
    requires ristretto.vmm.core;
}
