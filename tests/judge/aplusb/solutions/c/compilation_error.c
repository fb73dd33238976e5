/* Does not compile: a missing semicolon and an undeclared name. */
int main(void) { return undeclared_name }
