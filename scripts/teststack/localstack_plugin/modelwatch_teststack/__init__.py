"""modelwatch test stack: LocalStack provider plugins backed by LocalStack's bundled moto."""
