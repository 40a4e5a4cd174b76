"""Classes: __init__, methods, property, class/static methods, inheritance, dunders, nesting."""


class Shape:
    count = 0

    def __init__(self, name):
        self.name = name
        Shape.count += 1

    def area(self):
        return 0

    def describe(self):
        return "%s with area %s" % (self.name, self.area())

    @classmethod
    def made(cls):
        return cls.count

    @staticmethod
    def unit():
        return 1


class Square(Shape):
    def __init__(self, side):
        super().__init__("square")
        self.side = side

    @property
    def perimeter(self):
        return 4 * self.side

    def area(self):
        return self.side * self.side

    def __eq__(self, other):
        return isinstance(other, Square) and other.side == self.side

    def __hash__(self):
        return hash(self.side)

    def __repr__(self):
        return "Square(%d)" % self.side

    class Meta:
        label = "geometry"

        def tag(self):
            return self.label


shapes = [Square(2), Square(3), Shape("blob")]
for shape in shapes:
    print(shape.describe())
print(shapes[0].perimeter, Shape.made(), Shape.unit(), Square(2) == shapes[0])
print(Square.Meta().tag(), repr(shapes[1]))
