"""fathom.vision: image datasets, transforms, models and utilities in torchvision's dialect.

    from fathom.vision import datasets, transforms, models
    data = datasets.FashionMNIST(transform=transforms.ToTensor())
    model = models.get("lenet5")
"""
from . import datasets, models, transforms, utils  # noqa: F401
