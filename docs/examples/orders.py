"""A small program to look at (docs/inspect.md): python -m recorder docs/examples/orders.py"""
import threading
from decimal import Decimal

PRICES = {"pen": Decimal("1.50"), "book": Decimal("12.00"), "lamp": Decimal("30.00")}


class OutOfStock(Exception):
    pass


def price(item, qty):
    if item not in PRICES:
        raise OutOfStock(item)
    return PRICES[item] * qty


def total(order):
    amount = Decimal(0)
    for item, qty in order:
        try:
            amount += price(item, qty)
        except OutOfStock:
            print("skipped", item)
    return amount


def count_items(orders):
    return sum(len(order) for order in orders)


def main():
    orders = [[("pen", 3), ("book", 1)], [("lamp", 1), ("sofa", 1)]]
    audit = threading.Thread(target=count_items, args=(orders,), name="audit")
    audit.start()
    totals = [total(order) for order in orders]
    audit.join()
    print("totals:", totals)


main()
