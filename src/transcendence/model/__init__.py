"""The models: the text ChessFormer (GPT), the board network with its position encoding, checkpoints and device choice."""
