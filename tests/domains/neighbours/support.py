"""The pairs of the neighbours tests' tiny bundle (`conftest.neighbours_bundle`)."""

PAIRS = [(f"U+{cp:04X}", f"NAME {cp:04X} " + ("EVEN" if cp % 2 == 0 else "ODD"))
         for cp in range(0x41, 0x41 + 80)]
TEXTS = ["U+0045", " U+0100 ", "U+0041", "ZZZ", "", "U+00", "U+0201"]
LONG = ("U+0200", " ".join(["NAME"] * 400))  # a neighbour too long to read with "U+0201"
