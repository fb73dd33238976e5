<?php
// Reads two integers and prints their sum (PHP integers are 64-bit).
[$a, $b] = array_map('intval', preg_split('/\s+/', trim(fgets(STDIN))));
echo $a + $b, "\n";
