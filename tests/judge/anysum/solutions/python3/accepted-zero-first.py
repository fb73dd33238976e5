# Prints 0 and n (the answer file's own choice).
n = int(input())
print(0, n)
