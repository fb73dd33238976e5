# Reads two integers and prints their sum (64-bit integers).
use strict; use warnings; use integer;
my ($a, $b) = split ' ', <STDIN>;
print $a + $b, "\n";
