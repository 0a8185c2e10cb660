"""Assessment (考核): scorecards of posts, grids and communities per quarter and year."""
