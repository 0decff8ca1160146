/**
 * The libc calls the VMM makes (open, ioctl, mmap, eventfd, signals, termios), bound with the
 * Foreign Function &amp; Memory API. Internal to vmm-core: not exported, so native access stays in
 * one place; the exported packages translate its {@link dev.ristretto.vmm.sys.ErrnoException} into
 * their own exception types.
 */
package dev.ristretto.vmm.sys;
