# conf_dup_b: the same names as conf_dup_a, on other lines


def helper(x):
    y = x * 2
    return y


class K:
    kind = "b"

    def run(self):
        return self.kind
