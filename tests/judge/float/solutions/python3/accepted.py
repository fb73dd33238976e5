# Prints the quotient with 7 decimals: not the answer's text, but within 1e-6.
a, b = map(int, input().split())
print("%.7f" % (a / b))
