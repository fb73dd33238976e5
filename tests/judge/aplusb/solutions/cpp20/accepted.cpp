// C++20: std::format is not in g++ 12's library, so a concept shows the standard instead.
#include <concepts>
#include <iostream>
template <std::integral T> T add(T a, T b) { return a + b; }
int main() { long long a, b; std::cin >> a >> b; std::cout << add(a, b) << "\n"; }
