// Reads two 64-bit integers and prints their sum.
#include <iostream>
int main() { long long a, b; std::cin >> a >> b; std::cout << a + b << "\n"; }
