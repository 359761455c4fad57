def test_the_projects_page_answers_visitors(anonymous_client, db):
    assert anonymous_client.get("/").status_code == 200
