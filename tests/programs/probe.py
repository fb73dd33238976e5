"""The Python twin of probe.c: one behaviour per mode (argv[1])."""
import ctypes
import os
import signal
import socket
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else ""
n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].lstrip("-").isdigit() else 0
libc = ctypes.CDLL(None, use_errno=True)

if mode == "exit":
    sys.exit(n)
elif mode == "segv":
    ctypes.string_at(0)
elif mode == "fpe":
    os.kill(os.getpid(), signal.SIGFPE)
elif mode == "abort":
    os.abort()
elif mode == "spin":
    while True:
        pass
elif mode == "sleep":
    time.sleep(3600)
elif mode == "touch":
    b = bytearray(n << 20)
elif mode == "touch-threads":
    import threading
    keep = []
    ts = [threading.Thread(target=lambda: keep.append(bytearray((n // 4) << 20))) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
elif mode == "touch-fork":
    pid = os.fork()
    if pid == 0:
        b = bytearray(n << 20)
        os._exit(0)
    os.waitpid(pid, 0)
elif mode == "flood":
    chunk = b"x" * 65536
    while True:
        sys.stdout.buffer.write(chunk)
elif mode == "forkbomb":
    while True:
        try:
            os.fork()
        except OSError:
            pass
elif mode == "ptrace":
    libc.ptrace(0, 0, 0, 0)
elif mode == "unshare":
    libc.unshare(0x10000000)
else:
    print("unknown mode", mode, file=sys.stderr)
    sys.exit(2)
