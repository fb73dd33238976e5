# Allocates 1 GiB.
b = bytearray(1 << 30)
print(len(b))
