#!/usr/bin/python3
"""A lazy file system for power-cut tests (FUSE, Debian's python3-fusepy).

Everything written lives in this process's memory. Only an fsync makes it durable: fsync of a
file copies that file's bytes to the backing directory, fsync of a directory copies that
directory's entries (name -> inode). Nothing else ever reaches the backing directory, so a
"power cut" (the line `cut` on stdin) freezes the mount (every later call fails with EIO) and
the next mount of the same backing directory shows exactly what was synced: unsynced writes are
gone, and so are files whose directory entry was never synced, as after a real power loss on a
file system that keeps only what POSIX promises.

Usage: lazyfs.py BACKING MOUNTPOINT [CAPACITY_BYTES]
stdin lines: `cut` (freeze, answers `cut`), `stall` (every later write hangs, as on a disk or
mount that stopped answering, until `exit`; answers `stalled` when the first write hangs),
`exit` or end of input (unmount and exit).
stdout: `ready` once mounted. A CAPACITY makes writes beyond it fail with ENOSPC (a full disk).
"""
import errno
import json
import os
import stat
import subprocess
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations, fuse_get_context


class Node:
    __slots__ = ("ino", "mode", "uid", "gid", "data", "entries", "target", "nlink", "mtime", "ctime", "dirty_from")

    def __init__(self, ino, mode, uid=0, gid=0):
        self.ino, self.mode, self.uid, self.gid = ino, mode, uid, gid
        self.data = bytearray() if stat.S_ISREG(mode) else None
        self.entries = {} if stat.S_ISDIR(mode) else None
        self.target = None
        self.nlink = 2 if stat.S_ISDIR(mode) else 1
        self.mtime = self.ctime = time.time()
        self.dirty_from = None  # lowest byte offset changed since the last fsync


class LazyFS(Operations):
    use_ns = False

    def __init__(self, backing, capacity):
        self.backing, self.capacity = backing, capacity
        self.mutex = threading.Lock()
        self.frozen = False
        self.stalling = False
        self.unstall = threading.Event()
        self.fhs, self.next_fh = {}, 1
        os.makedirs(os.path.join(backing, "data"), exist_ok=True)
        os.makedirs(os.path.join(backing, "dirs"), exist_ok=True)
        self.nodes = {}
        self.next_ino = 2
        for sub in ("data", "dirs"):
            for f in os.listdir(os.path.join(backing, sub)):
                self.next_ino = max(self.next_ino, int(f.split(".")[0]) + 1)
        self.root = self._load(1, stat.S_IFDIR | 0o755)
        # An entry synced before its file's bytes names an inode with no data file: never reuse it.
        self.next_ino = max(self.next_ino, max(self.nodes) + 1)
        if not os.path.exists(self._dir_file(1)):
            self._persist_dir(self.root)

    # --- durable state (the backing directory) ---
    def _data_file(self, ino):
        return os.path.join(self.backing, "data", str(ino))

    def _dir_file(self, ino):
        return os.path.join(self.backing, "dirs", f"{ino}.json")

    def _load(self, ino, mode, uid=0, gid=0, target=None):
        if ino in self.nodes:
            self.nodes[ino].nlink += 1
            return self.nodes[ino]
        n = Node(ino, mode, uid, gid)
        self.nodes[ino] = n
        if stat.S_ISREG(mode) and os.path.exists(self._data_file(ino)):
            with open(self._data_file(ino), "rb") as f:
                n.data = bytearray(f.read())
        if stat.S_ISLNK(mode):
            n.target = target
        if stat.S_ISDIR(mode) and os.path.exists(self._dir_file(ino)):
            with open(self._dir_file(ino)) as f:
                for name, e in json.load(f).items():
                    n.entries[name] = self._load(e["ino"], e["mode"], e["uid"], e["gid"], e.get("target"))
        return n

    def _persist_dir(self, d):
        entries = {name: {"ino": c.ino, "mode": c.mode, "uid": c.uid, "gid": c.gid, "target": c.target} for name, c in d.entries.items()}
        tmp = self._dir_file(d.ino) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(entries, f)
        os.replace(tmp, self._dir_file(d.ino))

    def _persist_data(self, n):
        if n.data is None or n.dirty_from is None:
            return
        path = self._data_file(n.ino)
        with open(path, "r+b" if os.path.exists(path) else "w+b") as f:
            f.truncate(len(n.data))
            f.seek(n.dirty_from)
            f.write(n.data[n.dirty_from:])
        n.dirty_from = None

    # --- plumbing ---
    # No `lock` operation (nor an attribute of that name): the kernel then keeps byte-range
    # locks itself, with their real semantics.
    def __call__(self, op, *args):
        with self.mutex:
            if self.frozen and op != "destroy":
                raise FuseOSError(errno.EIO)
            return super().__call__(op, *args)

    def cut(self):
        with self.mutex:
            self.frozen = True

    def _lookup(self, path):
        n = self.root
        for part in [p for p in path.split("/") if p]:
            if n.entries is None or part not in n.entries:
                raise FuseOSError(errno.ENOENT)
            n = n.entries[part]
        return n

    def _parent(self, path):
        head, name = os.path.split(path.rstrip("/"))
        d = self._lookup(head)
        if d.entries is None:
            raise FuseOSError(errno.ENOTDIR)
        return d, name

    def _node(self, path, fh):
        return self.fhs[fh][0] if fh and fh in self.fhs else self._lookup(path)

    def _used(self):
        return sum(len(n.data) for n in self.nodes.values() if n.data is not None)

    def _new(self, path, mode):
        d, name = self._parent(path)
        if name in d.entries:
            raise FuseOSError(errno.EEXIST)
        uid, gid, _ = self.context()
        n = Node(self.next_ino, mode, uid, gid)
        self.next_ino += 1
        self.nodes[n.ino] = n
        d.entries[name] = n
        d.mtime = time.time()
        return n

    def context(self):
        return fuse_get_context()

    def _open_fh(self, n, flags):
        fh = self.next_fh
        self.next_fh += 1
        self.fhs[fh] = (n, bool(flags & (os.O_SYNC | os.O_DSYNC)))
        return fh

    # --- operations ---
    def getattr(self, path, fh=None):
        n = self._node(path, fh)
        size = len(n.data) if n.data is not None else (len(n.target) if n.target else 4096)
        return {"st_ino": n.ino, "st_mode": n.mode, "st_nlink": n.nlink, "st_uid": n.uid, "st_gid": n.gid, "st_size": size,
                "st_blocks": (size + 511) // 512, "st_atime": n.mtime, "st_mtime": n.mtime, "st_ctime": n.ctime}

    def readdir(self, path, fh):
        return [".", ".."] + list(self._lookup(path).entries)

    def access(self, path, amode):
        self._lookup(path)
        return 0

    def statfs(self, path):
        cap = self.capacity or (1 << 40)
        free = max(0, cap - self._used()) // 4096
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": cap // 4096, "f_bfree": free, "f_bavail": free,
                "f_files": 1 << 20, "f_ffree": (1 << 20) - len(self.nodes), "f_favail": (1 << 20) - len(self.nodes), "f_namemax": 255}

    def mkdir(self, path, mode):
        self._new(path, stat.S_IFDIR | (mode & 0o7777))

    def mknod(self, path, mode, dev):
        # Sockets (the daemon's control socket) and fifos: an entry with no data.
        self._new(path, mode)

    def create(self, path, mode, fi=None):
        return self._open_fh(self._new(path, stat.S_IFREG | (mode & 0o7777)), 0)

    def open(self, path, flags):
        n = self._lookup(path)
        if flags & os.O_TRUNC and n.data is not None:
            self._truncate(n, 0)
        return self._open_fh(n, flags)

    def opendir(self, path):
        return self._open_fh(self._lookup(path), 0)

    def release(self, path, fh):
        self.fhs.pop(fh, None)

    def releasedir(self, path, fh):
        self.fhs.pop(fh, None)

    def flush(self, path, fh):
        return 0

    def read(self, path, size, offset, fh):
        return bytes(self._node(path, fh).data[offset:offset + size])

    def write(self, path, data, offset, fh):
        if self.stalling:
            print("stalled", flush=True)
            self.unstall.wait()
            raise FuseOSError(errno.EIO)
        n = self._node(path, fh)
        end = offset + len(data)
        if self.capacity and end > len(n.data) and self._used() + end - len(n.data) > self.capacity:
            raise FuseOSError(errno.ENOSPC)
        if offset > len(n.data):
            n.data.extend(b"\0" * (offset - len(n.data)))
        n.data[offset:end] = data
        n.dirty_from = offset if n.dirty_from is None else min(n.dirty_from, offset)
        n.mtime = time.time()
        if fh in self.fhs and self.fhs[fh][1]:
            self._persist_data(n)
        return len(data)

    def _truncate(self, n, length):
        if n.data is None:
            raise FuseOSError(errno.EISDIR)
        if length > len(n.data):
            if self.capacity and self._used() + length - len(n.data) > self.capacity:
                raise FuseOSError(errno.ENOSPC)
            n.data.extend(b"\0" * (length - len(n.data)))
        else:
            del n.data[length:]
        n.dirty_from = length if n.dirty_from is None else min(n.dirty_from, length)
        n.mtime = time.time()

    def truncate(self, path, length, fh=None):
        self._truncate(self._node(path, fh), length)

    def fsync(self, path, datasync, fh):
        self._persist_data(self._node(path, fh))
        return 0

    def fsyncdir(self, path, datasync, fh):
        n = self._node(path, fh)
        self._persist_dir(n)
        return 0

    def unlink(self, path):
        d, name = self._parent(path)
        n = d.entries.pop(name, None)
        if n is None:
            raise FuseOSError(errno.ENOENT)
        self._unlinked(n)
        d.mtime = time.time()

    def _unlinked(self, n):
        # Its bytes stop counting against the capacity (open handles keep the node itself).
        n.nlink -= 1
        if n.nlink <= 0:
            self.nodes.pop(n.ino, None)

    def rmdir(self, path):
        d, name = self._parent(path)
        n = d.entries.get(name)
        if n is None:
            raise FuseOSError(errno.ENOENT)
        if n.entries:
            raise FuseOSError(errno.ENOTEMPTY)
        del d.entries[name]

    def rename(self, old, new):
        od, oname = self._parent(old)
        nd, nname = self._parent(new)
        n = od.entries.get(oname)
        if n is None:
            raise FuseOSError(errno.ENOENT)
        existing = nd.entries.get(nname)
        if existing is not None and existing.entries:
            raise FuseOSError(errno.ENOTEMPTY)
        del od.entries[oname]
        if existing is not None and existing is not n:
            self._unlinked(existing)
        nd.entries[nname] = n
        od.mtime = nd.mtime = time.time()

    def link(self, target, source):
        n = self._lookup(source)
        d, name = self._parent(target)
        if name in d.entries:
            raise FuseOSError(errno.EEXIST)
        d.entries[name] = n
        n.nlink += 1

    def symlink(self, target, source):
        n = self._new(target, stat.S_IFLNK | 0o777)
        n.target = source

    def readlink(self, path):
        n = self._lookup(path)
        if n.target is None:
            raise FuseOSError(errno.EINVAL)
        return n.target

    def chmod(self, path, mode):
        n = self._lookup(path)
        n.mode = (n.mode & ~0o7777) | (mode & 0o7777)
        n.ctime = time.time()

    def chown(self, path, uid, gid):
        n = self._lookup(path)
        if uid != -1 and uid != 0xFFFFFFFF:
            n.uid = uid
        if gid != -1 and gid != 0xFFFFFFFF:
            n.gid = gid

    def utimens(self, path, times=None):
        n = self._lookup(path)
        n.mtime = times[1] if times else time.time()


def main():
    backing, mountpoint = sys.argv[1], sys.argv[2]
    capacity = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    fs = LazyFS(backing, capacity)

    def control():
        # Wait for the mount, then follow the driver's commands.
        while not os.path.ismount(mountpoint):
            time.sleep(0.01)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "cut":
                fs.cut()
                print("cut", flush=True)
            elif line.strip() == "stall":
                fs.stalling = True
            elif line.strip() == "exit":
                break
        fs.unstall.set()
        # Not os.path.ismount as the test of success: on a frozen mount it fails with EIO and
        # looks unmounted. A mount still busy after a few tries is detached lazily.
        for _ in range(20):
            if subprocess.run(["fusermount", "-u", mountpoint], stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        subprocess.run(["fusermount", "-u", "-z", mountpoint], stderr=subprocess.DEVNULL)

    threading.Thread(target=control, daemon=True).start()
    FUSE(fs, mountpoint, foreground=True, nothreads=True, hard_remove=True, default_permissions=True, allow_other=True, big_writes=True)


if __name__ == "__main__":
    main()
