/** Assembly: a {@code MachineConfig} becomes a running machine through one linear boot recipe. */
module ristretto.machine {
    requires transitive ristretto.vmm.core;
    requires ristretto.firmware;
    requires ristretto.devices;
    requires com.fasterxml.jackson.databind;
    requires jdk.unsupported; // sun.misc.Signal: SIGTERM/SIGINT stop the machine in order (Machine)
    exports dev.ristretto.machine;
    opens dev.ristretto.machine to com.fasterxml.jackson.databind;
}
