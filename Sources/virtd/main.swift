print("virtd: not yet implemented")
