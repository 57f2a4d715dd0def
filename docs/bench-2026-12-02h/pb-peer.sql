\set u random(1, 100)
insert into peer_message(conv, sender, body) values (:u, :u, 'hello') returning id;
