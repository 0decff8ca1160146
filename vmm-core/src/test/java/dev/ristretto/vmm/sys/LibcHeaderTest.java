package dev.ristretto.vmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Our libc constants and struct layouts against glibc's headers (compiled with gcc). */
class LibcHeaderTest {

    @Test
    void constantsAndLayoutsMatchTheCHeaders() throws Exception {
        Map<String, Long> java = new LinkedHashMap<>();
        Map<String, String> c = new LinkedHashMap<>();
        check(java, c, "O_RDWR", Libc.O_RDWR);
        check(java, c, "O_CLOEXEC", Libc.O_CLOEXEC);
        check(java, c, "PROT_READ", Libc.PROT_READ);
        check(java, c, "PROT_WRITE", Libc.PROT_WRITE);
        check(java, c, "MAP_SHARED", Libc.MAP_SHARED);
        check(java, c, "MAP_PRIVATE", Libc.MAP_PRIVATE);
        check(java, c, "MAP_ANONYMOUS", Libc.MAP_ANONYMOUS);
        check(java, c, "MAP_NORESERVE", Libc.MAP_NORESERVE);
        check(java, c, "EFD_CLOEXEC", Libc.EFD_CLOEXEC);
        check(java, c, "EFD_NONBLOCK", Libc.EFD_NONBLOCK);
        check(java, c, "TCSANOW", Libc.TCSANOW);
        check(java, c, "sizeof(struct termios)", Libc.TERMIOS_SIZE);
        check(java, c, "sizeof(struct sigaction)", Libc.SIGACTION_SIZE);
        check(java, c, "offsetof(struct sigaction, sa_handler)", Libc.SIGACTION_HANDLER_OFFSET);
        check(java, c, "offsetof(struct sigaction, sa_mask)", Libc.SIGACTION_MASK_OFFSET);
        check(java, c, "offsetof(struct sigaction, sa_flags)", Libc.SIGACTION_FLAGS_OFFSET);
        check(java, c, "EPERM", Errno.EPERM);
        check(java, c, "ENOENT", Errno.ENOENT);
        check(java, c, "EINTR", Errno.EINTR);
        check(java, c, "ENXIO", Errno.ENXIO);
        check(java, c, "E2BIG", Errno.E2BIG);
        check(java, c, "EAGAIN", Errno.EAGAIN);
        check(java, c, "ENOMEM", Errno.ENOMEM);
        check(java, c, "EACCES", Errno.EACCES);
        check(java, c, "EFAULT", Errno.EFAULT);
        check(java, c, "EBUSY", Errno.EBUSY);
        check(java, c, "EEXIST", Errno.EEXIST);
        check(java, c, "ENODEV", Errno.ENODEV);
        check(java, c, "EINVAL", Errno.EINVAL);
        check(java, c, "ENOTTY", Errno.ENOTTY);
        check(java, c, "SIGRTMIN", Libc.sigrtmin());
        check(java, c, "EPOLL_CLOEXEC", Libc.EPOLL_CLOEXEC);
        check(java, c, "EPOLLIN", Libc.EPOLLIN);
        check(java, c, "EPOLL_CTL_ADD", Libc.EPOLL_CTL_ADD);
        check(java, c, "EPOLL_CTL_DEL", Libc.EPOLL_CTL_DEL);
        check(java, c, "sizeof(struct epoll_event)", Libc.EPOLL_EVENT_SIZE);
        check(java, c, "offsetof(struct epoll_event, events)", Libc.EPOLL_EVENT_EVENTS_OFFSET);
        check(java, c, "offsetof(struct epoll_event, data)", Libc.EPOLL_EVENT_DATA_OFFSET);
        check(java, c, "O_RDONLY", Libc.O_RDONLY);
        check(java, c, "O_NONBLOCK", Libc.O_NONBLOCK);
        check(java, c, "O_DIRECT", Libc.O_DIRECT);
        check(java, c, "SEEK_END", Libc.SEEK_END);
        check(java, c, "F_OFD_GETLK", Libc.F_OFD_GETLK);
        check(java, c, "F_OFD_SETLK", Libc.F_OFD_SETLK);
        check(java, c, "F_RDLCK", Libc.F_RDLCK);
        check(java, c, "F_WRLCK", Libc.F_WRLCK);
        check(java, c, "F_UNLCK", Libc.F_UNLCK);
        check(java, c, "sizeof(struct flock)", Libc.FLOCK_SIZE);
        check(java, c, "offsetof(struct flock, l_type)", Libc.FLOCK_TYPE_OFFSET);
        check(java, c, "offsetof(struct flock, l_whence)", Libc.FLOCK_WHENCE_OFFSET);
        check(java, c, "offsetof(struct flock, l_start)", Libc.FLOCK_START_OFFSET);
        check(java, c, "offsetof(struct flock, l_len)", Libc.FLOCK_LEN_OFFSET);
        check(java, c, "offsetof(struct flock, l_pid)", Libc.FLOCK_PID_OFFSET);
        check(java, c, "FALLOC_FL_KEEP_SIZE", Libc.FALLOC_FL_KEEP_SIZE);
        check(java, c, "FALLOC_FL_PUNCH_HOLE", Libc.FALLOC_FL_PUNCH_HOLE);
        check(java, c, "FALLOC_FL_ZERO_RANGE", Libc.FALLOC_FL_ZERO_RANGE);
        check(java, c, "POLLIN", Libc.POLLIN);
        check(java, c, "POLLOUT", Libc.POLLOUT);
        check(java, c, "sizeof(struct pollfd)", Libc.POLLFD_SIZE);
        check(java, c, "TUNSETIFF", Libc.TUNSETIFF);
        check(java, c, "IFF_TAP", Libc.IFF_TAP);
        check(java, c, "IFF_NO_PI", Libc.IFF_NO_PI);
        check(java, c, "IFNAMSIZ", Libc.IFNAMSIZ);
        check(java, c, "sizeof(struct ifreq)", Libc.IFREQ_SIZE);
        check(java, c, "offsetof(struct ifreq, ifr_flags)", Libc.IFREQ_FLAGS_OFFSET);
        check(java, c, "CLONE_NEWNET", Libc.CLONE_NEWNET);
        check(java, c, "EROFS", Errno.EROFS);
        check(java, c, "EOPNOTSUPP", Errno.EOPNOTSUPP);
        Map<String, Long> header = CProbe.evaluate(List.of("fcntl.h", "sys/mman.h", "sys/eventfd.h", "termios.h",
                "signal.h", "errno.h", "sys/epoll.h", "linux/falloc.h", "poll.h", "sched.h", "sys/ioctl.h", "net/if.h",
                "linux/if_tun.h"), c);
        assertEquals(java, header);
    }

    @Test
    void anchors() {
        // Fixed by the x86-64 glibc ABI; ARCHITECTURE.md relies on these.
        assertEquals(152, Libc.SIGACTION_SIZE);
        assertEquals(136, Libc.SIGACTION_FLAGS_OFFSET);
        assertEquals(60, Libc.TERMIOS_SIZE);
        assertEquals(12, Libc.EPOLL_EVENT_SIZE); // packed on x86-64
    }

    private static void check(Map<String, Long> java, Map<String, String> c, String expr, long value) {
        String key = expr.replaceAll("[^A-Za-z0-9_]+", "_");
        java.put(key, value);
        c.put(key, expr);
    }
}
