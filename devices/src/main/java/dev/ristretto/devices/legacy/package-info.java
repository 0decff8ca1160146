/**
 * The odds and ends of the PC's I/O space a Linux guest touches during boot.
 *
 * <h2>What the machine registers</h2>
 * <ul>
 *   <li>{@link dev.ristretto.devices.legacy.PostCodePort} at 0x80, length 1.</li>
 *   <li><b>Nothing at 0x61</b> (NMI status and control / "system control port B": speaker gate
 *       and data in bits 0–1, PIT channel 2 output in bit 5, refresh toggle in bit 4). Linux reads
 *       and writes it in its PIT-based TSC calibration (arch/x86/kernel/tsc.c pit_calibrate_tsc and
 *       quick_pit_calibrate) to gate PIT channel 2 and poll its output. The machine
 *       creates the in-kernel PIT with {@code KVM_CREATE_PIT2} and
 *       {@code flags = KVM_PIT_SPEAKER_DUMMY} (KVM Documentation/virt/kvm/api.rst §4.71
 *       KVM_CREATE_PIT2: "emulate speaker port stub"). KVM then registers its own device on the
 *       kernel's port-I/O bus at 0x61 (arch/x86/kvm/i8254.c kvm_create_pit,
 *       {@code KVM_SPEAKER_BASE_ADDRESS}) that reads back the speaker bits, the real gate and
 *       output of PIT channel 2 and a toggling refresh bit — exactly what the calibration loop
 *       needs, answered in the kernel without an exit. A user-space device at 0x61 would never be
 *       called. That in-kernel device is registered with length 4 but refuses every address other
 *       than 0x61 ({@code -EOPNOTSUPP}), so 0x62–0x64 still exit to user space and the i8042's
 *       status port at 0x64 is unaffected.</li>
 * </ul>
 * Other legacy ports Linux may probe (floppy 0x3f0, game port, LPT) are left unclaimed: the bus
 * answers all-ones, which every driver reads as "absent", and counts the access.
 */
package dev.ristretto.devices.legacy;
