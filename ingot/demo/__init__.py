"""`ingot demo`: a real deploy onto a virtual node, on embedded defaults."""
