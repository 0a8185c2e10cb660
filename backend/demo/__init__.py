"""Demo seeding and the synthetic district: the top layer, free to use every domain below."""
