# Prints two halves of n: a different valid answer from the answer file's.
n = int(input())
print(n // 2, n - n // 2)
