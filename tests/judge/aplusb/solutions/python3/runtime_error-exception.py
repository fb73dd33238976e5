# Raises an uncaught exception.
a, b = map(int, input().split())
raise ValueError("no sum today")
