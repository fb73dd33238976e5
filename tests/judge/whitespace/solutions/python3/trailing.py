# Trailing spaces on each line and a blank line at the end: accepted by tokens and lines,
# a presentation error under exact.
n = int(input())
for i in range(1, n + 1):
    print(f"{i}   ")
print()
