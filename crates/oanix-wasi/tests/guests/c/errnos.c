/*
 * The errno comparison guest in C: POSIX calls through wasi-libc, each
 * printed as a numbered line `NNN name result` — `ok` (with a value where
 * the call returns one), or the name of the errno it set. The host side
 * (tests/it/compare.rs) runs it under OANIX and under wasmtime-wasi over
 * the same tree and compares the lines.
 *
 * The tree is preopened as /sandbox: file.txt ("hello world"), empty (no
 * bytes), dir/inner.txt ("inner") and emptydir/. Nothing printed depends
 * on descriptor numbers, inode numbers, times or listing order.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S "/sandbox/"

static int counter;

/* The errno names, indexed by value (wasi-libc's errno values are the
 * preview1 ones). */
static const char *const NAMES[] = {
    "SUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL",
    "EAFNOSUPPORT", "EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY",
    "ECANCELED", "ECHILD", "ECONNABORTED", "ECONNREFUSED", "ECONNRESET",
    "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
    "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO",
    "EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP",
    "ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE",
    "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM",
    "ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR",
    "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO",
    "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO", "EPROTONOSUPPORT",
    "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE", "ETIMEDOUT",
    "ETXTBSY", "EXDEV", "ENOTCAPABLE",
};

static void line(const char *name, const char *result) {
    printf("%03d %s %s\n", ++counter, name, result);
}

static void failed(const char *name, int err) {
    char buf[32];
    if (err >= 0 && err < (int)(sizeof NAMES / sizeof NAMES[0])) {
        line(name, NAMES[err]);
    } else {
        snprintf(buf, sizeof buf, "errno%d", err);
        line(name, buf);
    }
}

/* A call that answers -1 and errno on failure: ok, or the errno. */
static void rc(const char *name, long r) {
    if (r < 0) {
        failed(name, errno);
    } else {
        line(name, "ok");
    }
}

/* As rc, printing the value on success. */
static void value(const char *name, long r) {
    char buf[32];
    if (r < 0) {
        failed(name, errno);
    } else {
        snprintf(buf, sizeof buf, "ok %ld", r);
        line(name, buf);
    }
}

/* A call that answers an errno (posix_fadvise, posix_fallocate). */
static void err_rc(const char *name, int e) {
    if (e != 0) {
        failed(name, e);
    } else {
        line(name, "ok");
    }
}

/* Opens `path` with `flags`; prints ok or the errno; closes it. */
static void try_open(const char *name, const char *path, int flags) {
    errno = 0;
    int fd = open(path, flags, 0644);
    rc(name, fd);
    if (fd >= 0) {
        close(fd);
    }
}

static const char *kind(mode_t m) {
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "link";
    if (S_ISCHR(m)) return "chr";
    return "other";
}

static void print_stat(const char *name, int r, const struct stat *st) {
    char buf[64];
    if (r < 0) {
        failed(name, errno);
    } else if (S_ISREG(st->st_mode)) {
        snprintf(buf, sizeof buf, "ok file size=%lld", (long long)st->st_size);
        line(name, buf);
    } else {
        snprintf(buf, sizeof buf, "ok %s", kind(st->st_mode));
        line(name, buf);
    }
}

static void do_stat(const char *name, const char *path) {
    struct stat st;
    errno = 0;
    print_stat(name, stat(path, &st), &st);
}

static void do_lstat(const char *name, const char *path) {
    struct stat st;
    errno = 0;
    print_stat(name, lstat(path, &st), &st);
}

static void do_fstat(const char *name, int fd) {
    struct stat st;
    errno = 0;
    print_stat(name, fstat(fd, &st), &st);
}

static void do_read(const char *name, int fd) {
    char buf[16];
    char out[48];
    errno = 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        failed(name, errno);
        return;
    }
    buf[n] = 0;
    snprintf(out, sizeof out, "ok %zd \"%s\"", n, buf);
    line(name, out);
}

static void do_readlink(const char *name, const char *path, size_t len) {
    char buf[64];
    char out[96];
    errno = 0;
    ssize_t n = readlink(path, buf, len < sizeof buf ? len : sizeof buf);
    if (n < 0) {
        failed(name, errno);
        return;
    }
    snprintf(out, sizeof out, "ok %zd \"%.*s\"", n, (int)n, buf);
    line(name, out);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name readdir lists, sorted, with its d_type. */
static void listing(const char *name, const char *path) {
    errno = 0;
    DIR *d = opendir(path);
    if (!d) {
        failed(name, errno);
        return;
    }
    char *names[64];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 64) {
        char *s = malloc(strlen(e->d_name) + 8);
        sprintf(s, "%s:%d", e->d_name, e->d_type);
        names[count++] = s;
    }
    closedir(d);
    qsort(names, count, sizeof names[0], cmp);
    char out[1024] = "ok ";
    for (int i = 0; i < count; i++) {
        if (i) strcat(out, ",");
        strncat(out, names[i], sizeof out - strlen(out) - 1);
        free(names[i]);
    }
    line(name, out);
}

static void opens(void) {
    try_open("open.rdonly", S "file.txt", O_RDONLY);
    try_open("open.dir_rdonly", S "dir", O_RDONLY);
    try_open("open.dir_wronly", S "dir", O_WRONLY);
    try_open("open.dir_rdwr", S "dir", O_RDWR);
    try_open("open.dir_o_directory", S "dir", O_RDONLY | O_DIRECTORY);
    try_open("open.dir_o_directory_rdwr", S "dir", O_RDWR | O_DIRECTORY);
    try_open("open.dir_trunc", S "dir", O_RDONLY | O_TRUNC);
    try_open("open.dir_creat", S "dir", O_RDWR | O_CREAT);
    try_open("open.dir_creat_excl", S "dir", O_RDWR | O_CREAT | O_EXCL);
    try_open("open.file_o_directory", S "file.txt", O_RDONLY | O_DIRECTORY);
    try_open("open.file_slash", S "file.txt/", O_RDONLY);
    try_open("open.file_creat_excl", S "file.txt", O_RDWR | O_CREAT | O_EXCL);
    try_open("open.missing", S "missing", O_RDONLY);
    try_open("open.missing_parent", S "missing/x", O_RDWR | O_CREAT);
    try_open("open.creat_slash", S "new/", O_RDWR | O_CREAT);
    try_open("open.below_file", S "file.txt/x", O_RDONLY);
    try_open("open.dotdot_inside", S "dir/../file.txt", O_RDONLY);
    try_open("open.dotdot_outside", S "../file.txt", O_RDONLY);
    try_open("open.dir_dotdot_outside", S "dir/../../file.txt", O_RDONLY);
    try_open("open.not_preopened", "/elsewhere/file.txt", O_RDONLY);
    try_open("open.relative", "file.txt", O_RDONLY);
    try_open("open.nofollow_file", S "file.txt", O_RDONLY | O_NOFOLLOW);
    try_open("open.excl_new", S "c.txt", O_RDWR | O_CREAT | O_EXCL);
    try_open("open.trunc", S "c.txt", O_WRONLY | O_TRUNC);
    try_open("open.append", S "c.txt", O_WRONLY | O_APPEND);

    int dirfd = open(S "dir", O_RDONLY | O_DIRECTORY);
    rc("openat.dir", dirfd);
    errno = 0;
    int f = openat(dirfd, "inner.txt", O_RDONLY);
    rc("openat.inner", f);
    if (f >= 0) close(f);
    errno = 0;
    f = openat(dirfd, "../file.txt", O_RDONLY);
    rc("openat.dotdot", f);
    if (f >= 0) close(f);
    errno = 0;
    f = openat(dirfd, "/sandbox/file.txt", O_RDONLY);
    rc("openat.absolute", f);
    if (f >= 0) close(f);
    int file = open(S "file.txt", O_RDONLY);
    errno = 0;
    f = openat(file, "x", O_RDONLY);
    rc("openat.file_as_dir", f);
    if (f >= 0) close(f);
    errno = 0;
    rc("mkdirat.file_as_dir", mkdirat(file, "x", 0755));
    errno = 0;
    f = openat(99, "x", O_RDONLY);
    rc("openat.bad_fd", f);
    if (f >= 0) close(f);
    close(file);
    close(dirfd);
}

static void descriptors(void) {
    int ro = open(S "file.txt", O_RDONLY);
    int wo = open(S "c.txt", O_WRONLY);
    int rw = open(S "c.txt", O_RDWR);
    int dir = open(S "dir", O_RDONLY | O_DIRECTORY);
    char buf[8] = "data";

    do_read("read.rdonly", ro);
    errno = 0;
    rc("write.rdonly", write(ro, buf, 4));
    do_read("read.wronly", wo);
    errno = 0;
    value("write.wronly", write(wo, buf, 4));
    do_read("read.dir", dir);
    errno = 0;
    rc("write.dir", write(dir, buf, 4));
    errno = 0;
    rc("write.stdin", write(0, buf, 4));
    errno = 0;
    rc("read.stdout", read(1, buf, 4));
    errno = 0;
    rc("read.closed", read(77, buf, 4));
    errno = 0;
    value("pread.rdonly", pread(ro, buf, 4, 6));
    errno = 0;
    rc("pread.dir", pread(dir, buf, 4, 0));
    errno = 0;
    rc("pread.stdin", pread(0, buf, 4, 0));
    errno = 0;
    value("pwrite.rw", pwrite(rw, "PW", 2, 0));
    errno = 0;
    rc("pwrite.rdonly", pwrite(ro, "PW", 2, 0));
    errno = 0;
    rc("pwrite.stdout", pwrite(1, "", 0, 0));

    errno = 0;
    value("lseek.end", lseek(ro, -1, SEEK_END));
    errno = 0;
    rc("lseek.negative", lseek(ro, -100, SEEK_SET));
    errno = 0;
    rc("lseek.dir", lseek(dir, 0, SEEK_SET));
    errno = 0;
    rc("lseek.stdout", lseek(1, 0, SEEK_CUR));
    errno = 0;
    rc("lseek.closed", lseek(77, 0, SEEK_CUR));

    errno = 0;
    rc("ftruncate.rw", ftruncate(rw, 3));
    errno = 0;
    rc("ftruncate.rdonly", ftruncate(ro, 3));
    errno = 0;
    rc("ftruncate.dir", ftruncate(dir, 0));
    errno = 0;
    rc("ftruncate.stdout", ftruncate(1, 0));
    errno = 0;
    rc("ftruncate.negative", ftruncate(rw, -1));
    do_fstat("fstat.rw", rw);
    do_fstat("fstat.dir", dir);
    do_fstat("fstat.stdin", 0);
    do_fstat("fstat.closed", 77);

    errno = 0;
    rc("fsync.rw", fsync(rw));
    errno = 0;
    rc("fsync.dir", fsync(dir));
    errno = 0;
    rc("fsync.stdout", fsync(1));
    errno = 0;
    rc("fdatasync.rw", fdatasync(rw));
    errno = 0;
    rc("fdatasync.dir", fdatasync(dir));
    err_rc("fadvise.rw", posix_fadvise(rw, 0, 0, POSIX_FADV_NORMAL));
    err_rc("fadvise.dir", posix_fadvise(dir, 0, 0, POSIX_FADV_NORMAL));
    err_rc("fallocate.dir", posix_fallocate(dir, 0, 1));
    err_rc("fallocate.closed", posix_fallocate(77, 0, 1));

    errno = 0;
    value("fcntl.getfl_append", fcntl(rw, F_GETFL) & O_APPEND);
    errno = 0;
    rc("fcntl.setfl_append", fcntl(rw, F_SETFL, O_APPEND));
    errno = 0;
    value("fcntl.getfl_after", fcntl(rw, F_GETFL) & O_APPEND);
    errno = 0;
    rc("fcntl.setfl_dir", fcntl(dir, F_SETFL, O_NONBLOCK));
    errno = 0;
    rc("fcntl.setfl_stdout", fcntl(1, F_SETFL, 0));
    errno = 0;
    rc("fcntl.closed", fcntl(77, F_GETFL));
    errno = 0;
    value("isatty.stdout", isatty(1));
    errno = 0;
    value("isatty.file", isatty(rw));

    struct timespec times[2] = {{1, 0}, {2, 0}};
    errno = 0;
    rc("futimens.rw", futimens(rw, times));
    errno = 0;
    rc("futimens.dir", futimens(dir, times));
    errno = 0;
    rc("futimens.stdout", futimens(1, times));
    errno = 0;
    rc("utimensat.file", utimensat(AT_FDCWD, S "file.txt", times, 0));
    errno = 0;
    rc("utimensat.missing", utimensat(AT_FDCWD, S "missing", times, 0));
    errno = 0;
    rc("utimensat.nofollow_file", utimensat(AT_FDCWD, S "file.txt", times, AT_SYMLINK_NOFOLLOW));
    errno = 0;
    rc("utimensat.null", utimensat(AT_FDCWD, S "dir", NULL, 0));

    errno = 0;
    rc("recv.file", recv(rw, buf, 4, 0));
    errno = 0;
    rc("send.file", send(rw, buf, 4, 0));
    errno = 0;
    rc("shutdown.file", shutdown(rw, SHUT_RDWR));
    errno = 0;
    rc("shutdown.dir", shutdown(dir, SHUT_RDWR));
    errno = 0;
    rc("recv.closed", recv(77, buf, 4, 0));
    errno = 0;
    rc("send.stdout", send(1, buf, 0, 0));
    errno = 0;
    int a = accept(rw, NULL, NULL);
    rc("accept.file", a);
    errno = 0;
    rc("accept.closed", accept(77, NULL, NULL));

    errno = 0;
    DIR *d = fdopendir(ro);
    rc("fdopendir.file", d ? 0 : -1);
    errno = 0;
    rc("close.rdonly", close(ro));
    errno = 0;
    rc("close.again", close(ro));
    close(wo);
    close(rw);
    close(dir);
}

static void paths(void) {
    do_stat("stat.file", S "file.txt");
    do_stat("stat.dir", S "dir");
    do_stat("stat.file_slash", S "file.txt/");
    do_stat("stat.dir_slash", S "dir/");
    do_stat("stat.missing", S "missing");
    do_stat("stat.below_file", S "file.txt/x");
    do_stat("stat.dotdot_outside", S "..");
    do_stat("stat.preopen", "/sandbox");
    do_lstat("lstat.file", S "file.txt");
    errno = 0;
    rc("access.file", access(S "file.txt", R_OK | W_OK));
    errno = 0;
    rc("access.missing", access(S "missing", F_OK));

    errno = 0;
    rc("mkdir.new", mkdir(S "m", 0755));
    errno = 0;
    rc("mkdir.existing", mkdir(S "m", 0755));
    errno = 0;
    rc("mkdir.over_file", mkdir(S "file.txt", 0755));
    errno = 0;
    rc("mkdir.missing_parent", mkdir(S "missing/m", 0755));
    errno = 0;
    rc("mkdir.below_file", mkdir(S "file.txt/m", 0755));
    errno = 0;
    rc("mkdir.slash", mkdir(S "m2/", 0755));
    errno = 0;
    rc("rmdir.not_empty", rmdir(S "dir"));
    errno = 0;
    rc("rmdir.file", rmdir(S "file.txt"));
    errno = 0;
    rc("rmdir.missing", rmdir(S "missing"));
    errno = 0;
    rc("rmdir.dot", rmdir(S "m/."));
    errno = 0;
    rc("rmdir.preopen", rmdir("/sandbox"));
    errno = 0;
    rc("rmdir.m", rmdir(S "m"));
    errno = 0;
    rc("unlink.dir", unlink(S "dir"));
    errno = 0;
    rc("unlink.file_slash", unlink(S "file.txt/"));
    errno = 0;
    rc("unlink.missing", unlink(S "missing"));
    errno = 0;
    rc("unlinkat.removedir", unlinkat(AT_FDCWD, S "m2", AT_REMOVEDIR));
    errno = 0;
    rc("remove.file", remove(S "c.txt"));
    errno = 0;
    rc("remove.missing", remove(S "c.txt"));

    int fd = open(S "r1", O_RDWR | O_CREAT, 0644);
    close(fd);
    errno = 0;
    rc("rename.missing", rename(S "missing", S "x"));
    errno = 0;
    rc("rename.file_over_dir", rename(S "r1", S "emptydir"));
    errno = 0;
    rc("rename.dir_over_file", rename(S "emptydir", S "r1"));
    errno = 0;
    rc("rename.dir_into_itself", rename(S "dir", S "dir/sub"));
    errno = 0;
    rc("rename.over_nonempty", rename(S "emptydir", S "dir"));
    errno = 0;
    rc("rename.file_slash", rename(S "r1/", S "r2"));
    errno = 0;
    rc("rename.outside", rename(S "r1", S "../r1"));
    errno = 0;
    rc("rename.ok", rename(S "r1", S "r2"));
    errno = 0;
    rc("rename.over_file", rename(S "r2", S "empty"));
    do_stat("rename.result", S "empty");
    listing("readdir.root", "/sandbox");
    listing("readdir.dir", S "dir");
    listing("readdir.file", S "file.txt");
    listing("readdir.missing", S "missing");
}

static void links(void) {
    mkdir(S "ldir", 0755);
    int fd = open(S "ldir/f.txt", O_RDWR | O_CREAT, 0644);
    write(fd, "in ldir", 7);
    close(fd);
    errno = 0;
    rc("symlink.file", symlink("file.txt", S "l_file"));
    errno = 0;
    rc("symlink.dir", symlink("ldir", S "l_dir"));
    errno = 0;
    rc("symlink.dangling", symlink("nothing", S "l_dangling"));
    errno = 0;
    rc("symlink.escape", symlink("../outside", S "l_escape"));
    errno = 0;
    rc("symlink.absolute", symlink("/sandbox/file.txt", S "l_absolute"));
    errno = 0;
    rc("symlink.loop", symlink("l_loop", S "l_loop"));
    errno = 0;
    rc("symlink.existing", symlink("file.txt", S "file.txt"));
    errno = 0;
    rc("symlink.empty_target", symlink("", S "l_empty"));
    do_readlink("readlink.file", S "l_file", 64);
    do_readlink("readlink.short", S "l_file", 3);
    do_readlink("readlink.not_link", S "file.txt", 64);
    do_readlink("readlink.missing", S "missing", 64);
    do_stat("stat.link", S "l_file");
    do_lstat("lstat.link", S "l_file");
    do_stat("stat.dir_link", S "l_dir");
    do_lstat("lstat.dir_link_slash", S "l_dir/");
    do_stat("stat.dangling", S "l_dangling");
    do_lstat("lstat.dangling", S "l_dangling");
    do_stat("stat.loop", S "l_loop");
    do_stat("stat.escape", S "l_escape");
    do_stat("stat.through_link", S "l_dir/f.txt");
    try_open("open.link", S "l_file", O_RDONLY);
    try_open("open.link_nofollow", S "l_file", O_RDONLY | O_NOFOLLOW);
    try_open("open.dir_link_nofollow", S "l_dir", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try_open("open.dir_link", S "l_dir", O_RDONLY | O_DIRECTORY);
    try_open("open.file_link_o_directory", S "l_file", O_RDONLY | O_DIRECTORY);
    try_open("open.dangling", S "l_dangling", O_RDONLY);
    try_open("open.dangling_creat_excl", S "l_dangling", O_RDWR | O_CREAT | O_EXCL);
    try_open("open.loop", S "l_loop", O_RDONLY);
    try_open("open.escape", S "l_escape", O_RDONLY);
    try_open("open.link_trunc_nofollow", S "l_file", O_WRONLY | O_TRUNC | O_NOFOLLOW);
    do_stat("file_still_whole", S "file.txt");
    struct timespec times[2] = {{3, 0}, {4, 0}};
    errno = 0;
    rc("utimensat.link", utimensat(AT_FDCWD, S "l_file", times, 0));
    errno = 0;
    rc("link.file", link(S "file.txt", S "hard.txt"));
    struct stat st;
    errno = 0;
    int r = stat(S "hard.txt", &st);
    value("link.nlink", r < 0 ? -1 : (long)st.st_nlink);
    errno = 0;
    rc("link.existing", link(S "file.txt", S "hard.txt"));
    errno = 0;
    rc("link.dir", link(S "dir", S "hard_dir"));
    errno = 0;
    rc("link.missing", link(S "missing", S "hard2"));
    errno = 0;
    rc("unlink.hard", unlink(S "hard.txt"));
    do_stat("unlink.other_name_stays", S "file.txt");
    errno = 0;
    rc("unlink.link", unlink(S "l_file"));
    do_stat("unlink.target_stays", S "file.txt");
    errno = 0;
    rc("rmdir.dir_link", rmdir(S "l_dir"));
    errno = 0;
    rc("unlink.dir_link", unlink(S "l_dir"));
    errno = 0;
    rc("rename.link", rename(S "l_dangling", S "l_moved"));
    do_readlink("readlink.moved", S "l_moved", 64);
    listing("readdir.links", "/sandbox");
}

int main(void) {
    opens();
    descriptors();
    paths();
    links();
    line("end", "ok");
    return 0;
}
