-- The salesperson's card tags (QYW-47..50) and follow-up phrases (QYW-42..44).

create table user_tag (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    name         text not null,
    create_date  timestamptz not null default now()
);
create index user_tag_company_idx on user_tag (company_id);

create table user_tag_link (
    user_id  bigint not null references user_profile(id) on delete cascade,
    tag_id   bigint not null references user_tag(id) on delete cascade,
    primary key (user_id, tag_id)
);
create index user_tag_link_tag_idx on user_tag_link (tag_id);

-- user_id null: one of the company's preset phrases.
create table follow_language (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    user_id      bigint references user_profile(id) on delete cascade,
    language     text not null,
    create_date  timestamptz not null default now()
);
create index follow_language_owner_idx on follow_language (company_id, user_id, id);

insert into follow_language (company_id, language)
select c.id, p.t from company c cross join unnest(array[
    '客户查看了公司产品,有合作意向', '已电话沟通,客户有兴趣', '已发送产品资料,等待客户反馈',
    '客户要求报价,已报价', '已约见面,待拜访', '已拜访客户,沟通顺利', '客户在比价,需持续跟进',
    '客户暂无需求,定期维护', '已成交客户,维护好后续关系'
]) with ordinality as p(t, n) order by c.id, p.n;
