# Reads two integers and prints their sum.
a, b = gets.split.map(&:to_i)
puts a + b
