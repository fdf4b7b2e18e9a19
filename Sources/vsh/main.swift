print("vsh: not yet implemented")
