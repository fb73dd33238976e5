# A syntax error: caught by the syntax check before any test.
print("unclosed"
