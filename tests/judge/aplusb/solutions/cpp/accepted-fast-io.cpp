// The same with unsynchronised streams.
#include <iostream>
int main() { std::ios::sync_with_stdio(false); std::cin.tie(nullptr); long long a, b; std::cin >> a >> b; std::cout << a + b << '\n'; }
