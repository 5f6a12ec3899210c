"""Games as text: the character vocabulary, the streaming PGN reader, SAN movetext and PGN writing."""
