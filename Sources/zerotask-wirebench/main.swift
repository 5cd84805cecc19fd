print("wirebench")
