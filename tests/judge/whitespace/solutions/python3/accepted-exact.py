# Prints 1..n one per line, exactly as the answer.
n = int(input())
print("\n".join(str(i) for i in range(1, n + 1)))
