# Reads two integers and prints their sum with shell arithmetic (64-bit).
read -r a b
echo $((a + b))
