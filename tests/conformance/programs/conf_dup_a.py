def helper(x):
    return x + 1


class K:
    def run(self):
        return "a"
