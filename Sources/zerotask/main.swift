print("zerotask")
