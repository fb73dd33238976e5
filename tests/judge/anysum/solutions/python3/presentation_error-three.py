# Prints a valid pair and a third number.
n = int(input())
print(1, n - 1, 0)
