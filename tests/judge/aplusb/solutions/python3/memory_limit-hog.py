# Allocates 1 GiB and touches all of it (bytearray zero-fills its buffer).
b = bytearray(1 << 30)
print(len(b))
