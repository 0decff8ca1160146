/** The picocli command line: options become a {@code MachineConfig}; nothing else lives here. */
module ristretto.cli {
    requires ristretto.machine;
    requires info.picocli;
    opens dev.ristretto.cli to info.picocli;
    exports dev.ristretto.cli;
}
