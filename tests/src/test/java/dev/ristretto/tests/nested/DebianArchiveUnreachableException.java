package dev.ristretto.tests.nested;

/**
 * A guest-image script could not reach Debian's archive (fetch-debian-kernel.sh and
 * build-initramfs.sh exit with 3 then). It is the one harness failure that says nothing about
 * the code under test, so tests turn it into a skip with this message as the reason.
 */
public final class DebianArchiveUnreachableException extends HarnessException {
    private static final long serialVersionUID = 1L;

    public DebianArchiveUnreachableException(String message) {
        super(message);
    }
}
