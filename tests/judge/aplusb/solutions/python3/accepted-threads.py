# Computes the sum in a thread.
import threading
a, b = map(int, input().split())
out = []
t = threading.Thread(target=lambda: out.append(a + b))
t.start()
t.join()
print(out[0])
