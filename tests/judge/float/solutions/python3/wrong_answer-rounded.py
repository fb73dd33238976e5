# Rounds to 2 decimals: too far from the answer.
a, b = map(int, input().split())
print("%.2f" % (a / b))
