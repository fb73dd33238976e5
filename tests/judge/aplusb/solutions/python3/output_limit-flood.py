# Prints forever.
import sys
line = "3 " * 40 + "\n"
while True:
    sys.stdout.write(line)
